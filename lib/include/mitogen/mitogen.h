/* libmitogen: everything public. */
#ifndef MITOGEN_MITOGEN_H
#define MITOGEN_MITOGEN_H

#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/loop.h"
#include "mitogen/broker.h"
#include "mitogen/router.h"
#include "mitogen/message.h"
#include "mitogen/receiver.h"
#include "mitogen/select.h"
#include "mitogen/service.h"
#include "mitogen/codec.h"
#include "mitogen/worker.h"
#include "mitogen/chain.h"
#include "mitogen/session.h"
#include "mitogen/connect.h"
#include "mitogen/context.h"
#include "mitogen/exec.h"
#include "mitogen/bcast.h"
#include "mitogen/targets.h"
#include "mitogen/agent.h"
#include "mitogen/unix.h"
#include "mitogen/file.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, e.g. "0.1.0". */
const char *mg_version(void);

#ifdef __cplusplus
}
#endif

#endif
