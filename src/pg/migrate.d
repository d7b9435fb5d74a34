src/pg/migrate.o: src/pg/migrate.cpp src/pg/migrate.hpp src/pg/jobs.hpp \
 src/pg/boundary.hpp src/pg/spi.hpp src/pg/catalog.hpp src/core/ddl.hpp \
 src/pg/rows.hpp src/pg/verify.hpp src/core/d1_client.hpp \
 src/core/d1_response.hpp src/core/statement.hpp src/pg/credentials.hpp \
 src/pg/guc.hpp src/core/batch_planner.hpp src/pg/txn.hpp \
 src/core/async_sender.hpp src/core/d1_schema.hpp src/core/error.hpp \
 src/core/sqlite_encode.hpp
src/pg/migrate.hpp:
src/pg/jobs.hpp:
src/pg/boundary.hpp:
src/pg/spi.hpp:
src/pg/catalog.hpp:
src/core/ddl.hpp:
src/pg/rows.hpp:
src/pg/verify.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/core/statement.hpp:
src/pg/credentials.hpp:
src/pg/guc.hpp:
src/core/batch_planner.hpp:
src/pg/txn.hpp:
src/core/async_sender.hpp:
src/core/d1_schema.hpp:
src/core/error.hpp:
src/core/sqlite_encode.hpp:
