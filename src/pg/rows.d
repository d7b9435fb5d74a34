src/pg/rows.o: src/pg/rows.cpp src/pg/rows.hpp src/pg/catalog.hpp \
 src/core/ddl.hpp src/core/d1_response.hpp src/core/error.hpp \
 src/core/sqlite_encode.hpp
src/pg/rows.hpp:
src/pg/catalog.hpp:
src/core/ddl.hpp:
src/core/d1_response.hpp:
src/core/error.hpp:
src/core/sqlite_encode.hpp:
