#include "config.h"
#include "mitogen/mitogen.h"

const char *mg_version(void)
{
	return MG_VERSION;
}
