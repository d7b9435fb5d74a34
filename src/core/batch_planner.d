src/core/batch_planner.o: src/core/batch_planner.cpp \
 src/core/batch_planner.hpp src/core/statement.hpp src/core/error.hpp \
 src/core/sqlite_encode.hpp
src/core/batch_planner.hpp:
src/core/statement.hpp:
src/core/error.hpp:
src/core/sqlite_encode.hpp:
