src/pg/guc.o: src/pg/guc.cpp src/pg/guc.hpp src/core/batch_planner.hpp \
 src/core/statement.hpp src/core/d1_client.hpp src/core/d1_response.hpp \
 src/pg/jobs.hpp
src/pg/guc.hpp:
src/core/batch_planner.hpp:
src/core/statement.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/pg/jobs.hpp:
