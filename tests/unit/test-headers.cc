/* test-headers.c as C++: see there. */
#include "test-headers.c"
