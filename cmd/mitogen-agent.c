/* mitogen-agent: what runs on every hop. All of it lives in the library. */
#include <mitogen/agent.h>

int main(int argc, char **argv)
{
	return mg_agent_main(argc, argv);
}
