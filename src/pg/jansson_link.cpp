// jansson_link.cpp — the three outside symbols the statically linked jansson needs,
// defined inside pg2d1.so (see the Makefile: libjansson.a is not PIC, so its references to
// stdin, malloc and free are renamed to these local definitions).
// Must never be used by anything but jansson. Called by jansson's load.c and memory.c.
#include <cstdio>
#include <cstdlib>

extern "C" {
__attribute__((visibility("hidden"))) FILE *pg2d1_jansson_stdin = stdin;
__attribute__((visibility("hidden"))) void *pg2d1_jansson_malloc(size_t n) {
	return std::malloc(n);
}
__attribute__((visibility("hidden"))) void pg2d1_jansson_free(void *p) {
	std::free(p);
}
}
