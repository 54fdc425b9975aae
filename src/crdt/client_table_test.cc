#include "crdt/client_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "crdt/doc.h"
#include "crdt/read_api.h"
#include "crdt/types/shared_types.h"
#include "lib0/json.h"

namespace tandem::crdt {
namespace {

TEST(ClientTableTest, OneRefPerClientWhileHeldThenReused) {
  const size_t before = ClientTable::live();
  const ClientRef a = ClientTable::Acquire(0x1234'5678'9abcULL);
  const ClientRef again = ClientTable::Acquire(0x1234'5678'9abcULL);
  const ClientRef b = ClientTable::Acquire(7);
  EXPECT_EQ(a, again);
  EXPECT_NE(a, b);
  EXPECT_EQ(ClientTable::Get(a), 0x1234'5678'9abcULL);
  EXPECT_EQ(ClientTable::Get(b), 7u);
  EXPECT_EQ(ClientTable::live(), before + 2);
  ClientTable::Release(a);
  EXPECT_EQ(ClientTable::Get(a), 0x1234'5678'9abcULL);  // one reference is still held
  ClientTable::Release(again);
  ClientTable::Release(b);
  EXPECT_EQ(ClientTable::live(), before);
  const ClientRef c = ClientTable::Acquire(99);  // takes a freed slot
  EXPECT_TRUE(c == a || c == b);
  EXPECT_EQ(ClientTable::Get(c), 99u);
  ClientTable::Release(c);
}

TEST(ClientTableTest, DocumentsReleaseTheirClientsWhenTheyGo) {
  const size_t before = ClientTable::live();
  {
    Doc doc(DocOptions{.gc = true, .client_id = 0xfeed'beef'0001ULL});
    // yjs 13.6.33: clientID = 1; getText('t').insert(0, 'ab')
    const std::vector<uint8_t> update = {0x01, 0x01, 0x01, 0x00, 0x04, 0x01,
                                         0x01, 0x74, 0x02, 0x61, 0x62, 0x00};
    ASSERT_TRUE(doc.ApplyUpdate(update).ok());
    EXPECT_EQ(ClientTable::live(), before + 1);
    EXPECT_EQ(doc.EncodeStateAsUpdate(), update);
    // A rejected update gives back the ref of the client it named (5).
    const std::vector<uint8_t> truncated = {0x01, 0x01, 0x05, 0x00, 0x04, 0x01, 0x01};
    EXPECT_FALSE(doc.ApplyUpdate(truncated).ok());
    EXPECT_EQ(ClientTable::live(), before + 1);
  }
  EXPECT_EQ(ClientTable::live(), before);
}

TEST(ClientTableTest, DocumentsSharingAClientStayCorrectWhenOneGoes) {
  // yjs 13.6.33: clientID = 1; getText('t').insert(0, 'ab'), then from client 2 (origin 1:1)
  // insert 'c' at 2: a struct of one client pointing at another's.
  const std::vector<uint8_t> first = {0x01, 0x01, 0x01, 0x00, 0x04, 0x01,
                                      0x01, 0x74, 0x02, 0x61, 0x62, 0x00};
  Doc source(DocOptions{.gc = true, .client_id = 2});
  ASSERT_TRUE(source.ApplyUpdate(first).ok());
  ASSERT_TRUE(source.GetText("t").Insert(2, "c").ok());
  const std::vector<uint8_t> both = source.EncodeStateAsUpdate();
  const size_t before = ClientTable::live();
  auto a = std::make_unique<Doc>(DocOptions{.gc = true, .client_id = 3});
  auto b = std::make_unique<Doc>(DocOptions{.gc = true, .client_id = 4});
  ASSERT_TRUE(a->ApplyUpdate(both).ok());
  ASSERT_TRUE(b->ApplyUpdate(both).ok());
  a.reset();  // b still holds clients 1 and 2; their refs must not be reused
  const ClientRef other = ClientTable::Acquire(0xabcdef);
  EXPECT_EQ(b->EncodeStateAsUpdate(), both);
  EXPECT_EQ(lib0::ToJson(DocToJson(*b)), R"({"t":"abc"})");
  ClientTable::Release(other);
  b.reset();
  EXPECT_EQ(ClientTable::live(), before);
}

TEST(ClientTableTest, ThreadsAcquireAndReleaseConcurrently) {
  const size_t before = ClientTable::live();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (uint64_t i = 0; i < 20000; ++i) {
        const ClientId client = (i % 300) + 1000 * static_cast<uint64_t>(t % 2);
        const ClientRef ref = ClientTable::Acquire(client);
        ASSERT_EQ(ClientTable::Get(ref), client);
        ClientTable::Release(ref);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ClientTable::live(), before);
}

}  // namespace
}  // namespace tandem::crdt
