src/pg/worker.o: src/pg/worker.cpp src/pg/jobs.hpp src/pg/boundary.hpp \
 src/pg/spi.hpp src/pg/credentials.hpp src/core/d1_client.hpp \
 src/core/d1_response.hpp src/core/statement.hpp src/pg/guc.hpp \
 src/core/batch_planner.hpp src/pg/migrate.hpp src/pg/txn.hpp \
 src/core/error.hpp
src/pg/jobs.hpp:
src/pg/boundary.hpp:
src/pg/spi.hpp:
src/pg/credentials.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/core/statement.hpp:
src/pg/guc.hpp:
src/core/batch_planner.hpp:
src/pg/migrate.hpp:
src/pg/txn.hpp:
src/core/error.hpp:
