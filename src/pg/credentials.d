src/pg/credentials.o: src/pg/credentials.cpp src/pg/credentials.hpp \
 src/core/d1_client.hpp src/core/d1_response.hpp src/core/statement.hpp \
 src/pg/boundary.hpp src/pg/guc.hpp src/core/batch_planner.hpp \
 src/core/error.hpp
src/pg/credentials.hpp:
src/core/d1_client.hpp:
src/core/d1_response.hpp:
src/core/statement.hpp:
src/pg/boundary.hpp:
src/pg/guc.hpp:
src/core/batch_planner.hpp:
src/core/error.hpp:
