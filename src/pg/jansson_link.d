src/pg/jansson_link.o: src/pg/jansson_link.cpp
