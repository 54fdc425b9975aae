#pragma once
// Debug builds check that strand-only code runs on its strand: every member of a Room and of its
// persistence is touched only there, and a call from elsewhere is a race.

#include <cassert>

#ifndef NDEBUG
#define TANDEM_DCHECK_ON_STRAND(strand) \
  assert((strand).running_in_this_thread() && "called off the room's strand")
#else
#define TANDEM_DCHECK_ON_STRAND(strand) ((void)0)
#endif
