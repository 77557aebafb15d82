/* The backend interface. */
#include "../lib/error.h"
