src/pg/verify.o: src/pg/verify.cpp src/pg/verify.hpp src/pg/catalog.hpp \
 src/core/ddl.hpp src/core/d1_client.hpp src/core/d1_response.hpp \
 src/core/statement.hpp src/pg/boundary.hpp src/pg/rows.hpp \
 src/pg/spi.hpp src/core/checksum.hpp src/core/sqlite_encode.hpp
src/pg/verify.hpp:
src/pg/catalog.hpp:
src/core/ddl.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/core/statement.hpp:
src/pg/boundary.hpp:
src/pg/rows.hpp:
src/pg/spi.hpp:
src/core/checksum.hpp:
src/core/sqlite_encode.hpp:
