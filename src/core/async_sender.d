src/core/async_sender.o: src/core/async_sender.cpp \
 src/core/async_sender.hpp src/core/statement.hpp src/core/error.hpp
src/core/async_sender.hpp:
src/core/statement.hpp:
src/core/error.hpp:
