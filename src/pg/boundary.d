src/pg/boundary.o: src/pg/boundary.cpp src/pg/boundary.hpp \
 src/core/error.hpp
src/pg/boundary.hpp:
src/core/error.hpp:
