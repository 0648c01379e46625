/* The agent: the program every hop runs. */
#ifndef MITOGEN_AGENT_H
#define MITOGEN_AGENT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Run the agent; returns the process exit status. */
int mg_agent_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
