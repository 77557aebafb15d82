/* The interface the backends implement: allowed. */
#include "../../core/backend.h"
