src/pg/functions.o: src/pg/functions.cpp src/pg/boundary.hpp \
 src/pg/spi.hpp src/pg/catalog.hpp src/core/ddl.hpp \
 src/pg/credentials.hpp src/core/d1_client.hpp src/core/d1_response.hpp \
 src/core/statement.hpp src/pg/guc.hpp src/core/batch_planner.hpp \
 src/pg/jobs.hpp src/pg/verify.hpp src/core/checksum.hpp \
 src/core/sqlite_encode.hpp src/core/d1_schema.hpp src/core/error.hpp
src/pg/boundary.hpp:
src/pg/spi.hpp:
src/pg/catalog.hpp:
src/core/ddl.hpp:
src/pg/credentials.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/core/statement.hpp:
src/pg/guc.hpp:
src/core/batch_planner.hpp:
src/pg/jobs.hpp:
src/pg/verify.hpp:
src/core/checksum.hpp:
src/core/sqlite_encode.hpp:
src/core/d1_schema.hpp:
src/core/error.hpp:
