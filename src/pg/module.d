src/pg/module.o: src/pg/module.cpp src/pg/boundary.hpp src/pg/guc.hpp \
 src/core/batch_planner.hpp src/core/statement.hpp src/core/d1_client.hpp \
 src/core/d1_response.hpp src/pg/jobs.hpp
src/pg/boundary.hpp:
src/pg/guc.hpp:
src/core/batch_planner.hpp:
src/core/statement.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/pg/jobs.hpp:
