/* Up the layers: lib/ names core/ (and core/ names lib/: a cycle). */
#include "../core/engine.h"
