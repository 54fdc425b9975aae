#include "sqlite/database.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tandem::sqlite {
namespace {

TEST(DatabaseTest, StatementsBindStepAndReadColumns) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("tandem-sqlite-test-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  auto db =
      Database::Open(path.string(), "CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB, n INTEGER);");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  {
    Statement insert = (*db)->Cached("INSERT INTO t (k, v, n) VALUES (?, ?, ?)");
    ASSERT_TRUE(insert.ok());
    const std::vector<uint8_t> bytes = {1, 2, 3};
    insert.BindText(1, "a");
    insert.BindBlob(2, bytes);
    insert.BindInt(3, 42);
    ASSERT_TRUE(insert.Run("insert").ok());
  }
  {
    // The cached statement was reset when the last one went: it binds again.
    Statement insert = (*db)->Cached("INSERT INTO t (k, v, n) VALUES (?, ?, ?)");
    insert.BindText(1, "b");
    insert.BindBlob(2, {});
    insert.BindNull(3);
    ASSERT_TRUE(insert.Run("insert").ok());
  }
  Statement select = (*db)->Prepare("SELECT k, v, n FROM t ORDER BY k");
  ASSERT_EQ(select.Step(), 100 /* SQLITE_ROW */);
  EXPECT_EQ(select.ColumnText(0), "a");
  EXPECT_EQ(select.ColumnBlob(1), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(select.ColumnInt(2), 42);
  ASSERT_EQ(select.Step(), 100);
  EXPECT_TRUE(select.ColumnBlob(1).empty());
  EXPECT_TRUE(select.ColumnIsNull(2));
  Status bad = (*db)->Exec("INSERT INTO missing VALUES (1)");
  EXPECT_EQ(bad.code(), StatusCode::kUnavailable);
  EXPECT_NE(bad.message().find("missing"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tandem::sqlite
