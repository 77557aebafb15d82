/* The engine names a backend header. */
#include "../lib/error.h"
#include "../backends/dualbank/dualbank.h"
