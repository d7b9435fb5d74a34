src/pg/txn.o: src/pg/txn.cpp src/pg/txn.hpp src/pg/boundary.hpp
src/pg/txn.hpp:
src/pg/boundary.hpp:
