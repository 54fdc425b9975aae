#include "cli/doc_command.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tandem::cli {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// yjs 13.6.33: clientID 1; text 't' = "ab"; map 'm' = {k: 1}
const Bytes kUpdate = {0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x61, 0x62,
                       0x28, 0x01, 0x01, 0x6d, 0x01, 0x6b, 0x01, 0x7d, 0x01, 0x00};

class DocCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tandem-doc-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const Bytes& bytes) {
    auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  Bytes Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  fs::path dir_;
};

TEST_F(DocCommandTest, MergeJsonSvDiff) {
  // Split the update into its map part and its text part, pass them in reverse order.
  std::string full = Write("full.bin", kUpdate);
  std::string sv1 = Write("sv1.bin", Bytes{1, 1, 2});
  std::string tail = (dir_ / "tail.bin").string();
  std::ostringstream err;
  ASSERT_EQ(DocDiff({}, full, sv1, tail, err), 0) << err.str();
  std::string merged = (dir_ / "merged.bin").string();
  ASSERT_EQ(DocMerge({}, {tail, full}, merged, err), 0) << err.str();
  EXPECT_EQ(Read(merged), kUpdate);
  std::ostringstream out;
  ASSERT_EQ(DocJson({}, merged, out, err), 0);
  EXPECT_EQ(out.str(), "{\"t\":\"ab\",\"m\":{\"k\":1}}\n");
  std::ostringstream sv_out;
  ASSERT_EQ(DocStateVector({}, merged, sv_out, err), 0);
  EXPECT_EQ(sv_out.str(), "{\"1\":3}\n");
}

TEST_F(DocCommandTest, MalformedInputExitsTwoAndWritesNothing) {
  std::string bad = Write("bad.bin", Bytes{0x01, 0x05, 0x01});
  std::string out_path = (dir_ / "out.bin").string();
  std::ostringstream err;
  EXPECT_EQ(DocMerge({}, {bad}, out_path, err), 2);
  EXPECT_FALSE(fs::exists(out_path));
  const std::string message = err.str();
  EXPECT_NE(message.find("bad.bin"), std::string::npos);
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1);
  std::ostringstream out;
  EXPECT_EQ(DocJson({}, bad, out, err), 2);
  EXPECT_TRUE(out.str().empty());
  std::string good = Write("good.bin", kUpdate);
  std::string bad_sv = Write("badsv.bin", Bytes{0x05});
  EXPECT_EQ(DocDiff({}, good, bad_sv, out_path, err), 2);
  EXPECT_FALSE(fs::exists(out_path));
}

}  // namespace
}  // namespace tandem::cli
