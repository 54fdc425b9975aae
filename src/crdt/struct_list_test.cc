#include "crdt/struct_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "crdt/item.h"
#include "crdt/struct_store.h"

namespace tandem::crdt {
namespace {

// A struct list finds the struct of a clock through sampled clocks and then the items' own
// clocks. This test splits and merges structs all over a long list, as integration does, and
// after every change checks every clock against a plain model.
TEST(StructListTest, FindsTheStructOfEveryClockThroughSplitsAndMerges) {
  ItemPool pool;
  StructList list;
  std::vector<Item*> model;  // the same structs, in clock order
  Clock end = 0;
  auto make = [&](Clock clock, uint64_t len) {
    Item* item = pool.New();
    item->set_clock(clock);
    item->content = Content::Deleted(len);
    return item;
  };
  for (int i = 0; i < 2000; ++i) {
    Item* item = make(end, 1 + i % 5);
    end += item->length();
    list.push_back(item);
    model.push_back(item);
  }
  auto check = [&](int step) {
    ASSERT_EQ(list.size(), model.size()) << step;
    size_t k = 0;
    for (Clock c = 0; c < end; ++c) {
      while (model[k]->end_clock() <= c) ++k;
      ASSERT_EQ(list.FindIndex(c), k) << "clock " << c << " after step " << step;
    }
    ASSERT_EQ(list.FindIndex(end), StructList::kNotFound);
    for (size_t i = 0; i < model.size(); ++i) ASSERT_EQ(list[i], model[i]) << step;
  };
  check(-1);
  std::mt19937 rng(7);
  for (int step = 0; step < 1500; ++step) {
    // Half of the changes hit the first chunks, so that chunks split and fold.
    const size_t i = rng() % (step % 2 == 0 ? std::min<size_t>(model.size(), 300) : model.size());
    Item* item = model[i];
    if (rng() % 3 != 0 && item->length() > 1) {
      // Split: the item keeps its first part, a new struct takes the rest.
      const uint64_t offset = 1 + rng() % (item->length() - 1);
      Item* right = make(item->clock() + offset, item->length() - offset);
      item->content = Content::Deleted(offset);
      list.insert(i + 1, right);
      model.insert(model.begin() + static_cast<ptrdiff_t>(i) + 1, right);
    } else if (i + 3 < model.size()) {
      // Merge: the item absorbs the next one to three structs, which leave the list.
      const size_t n = 1 + rng() % 3;
      uint64_t len = item->length();
      for (size_t k = 1; k <= n; ++k) len += model[i + k]->length();
      item->content = Content::Deleted(len);
      for (size_t k = 1; k <= n; ++k) pool.Free(model[i + k]);
      list.erase(i + 1, i + 1 + n);
      model.erase(model.begin() + static_cast<ptrdiff_t>(i) + 1,
                  model.begin() + static_cast<ptrdiff_t>(i + 1 + n));
    }
    if (step % 50 == 0) check(step);
  }
  check(1500);
  for (Item* item : model) pool.Free(item);
}

}  // namespace
}  // namespace tandem::crdt
