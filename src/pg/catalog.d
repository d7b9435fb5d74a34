src/pg/catalog.o: src/pg/catalog.cpp src/pg/catalog.hpp src/core/ddl.hpp \
 src/pg/boundary.hpp src/pg/spi.hpp src/pg/guc.hpp \
 src/core/batch_planner.hpp src/core/statement.hpp src/core/d1_client.hpp \
 src/core/d1_response.hpp src/core/sqlite_encode.hpp src/core/error.hpp
src/pg/catalog.hpp:
src/core/ddl.hpp:
src/pg/boundary.hpp:
src/pg/spi.hpp:
src/pg/guc.hpp:
src/core/batch_planner.hpp:
src/core/statement.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/core/sqlite_encode.hpp:
src/core/error.hpp:
