#include "aits/persistence/sqlite.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

namespace aits::sqlite {
namespace {

namespace fs = std::filesystem;

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("aits_sqlite_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(SqliteTest, StatementsBindStepAndReadColumns) {
  auto db = Database::Open(Path("a.db"), {.create = true});
  ASSERT_TRUE(db.ok()) << db.status().message();
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER, s TEXT, b BLOB)", "create").ok());
  auto insert = Statement::Prepare(*db, "INSERT INTO t VALUES(?, ?, ?)");
  ASSERT_TRUE(insert.ok());
  const std::string blob("a\0b", 3);
  ASSERT_TRUE(insert->Int(-7).Text("x\"y").BlobNoCopy(blob).Run().ok());
  EXPECT_EQ(db->LastInsertRowId(), 1);
  insert->Reset();
  ASSERT_TRUE(insert->Int(8).Text("").BlobNoCopy("").Run().ok());

  auto select = Statement::Prepare(*db, "SELECT i, s, b FROM t ORDER BY rowid");
  ASSERT_TRUE(select.ok());
  auto row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->ColumnInt(0), -7);
  EXPECT_EQ(select->ColumnText(1), "x\"y");
  EXPECT_EQ(select->ColumnBlob(2), blob);
  row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->ColumnInt(0), 8);
  // An empty blob is stored as an empty blob, not NULL.
  EXPECT_FALSE(select->ColumnIsNull(2));
  row = select->Step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);

  auto text = db->QueryText("SELECT s FROM t WHERE i = -7", "query");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->value_or("?"), "x\"y");
  auto none = db->QueryText("SELECT s FROM t WHERE i = 99", "query");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
  auto db = Database::Open(Path("t.db"), {.create = true});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER)", "create").ok());
  {
    auto txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(1)", "insert").ok());
    EXPECT_FALSE(db->autocommit());
  }
  EXPECT_TRUE(db->autocommit());
  EXPECT_EQ(db->QueryText("SELECT count(*) FROM t", "count")->value_or(""), "0");
  {
    auto txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES(1)", "insert").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(db->QueryText("SELECT count(*) FROM t", "count")->value_or(""), "1");
}

TEST_F(SqliteTest, ErrorsNameTheLabelWhatAndSqlitesMessage) {
  // A missing file without create: CANTOPEN, an IoError naming the label.
  auto missing = Database::Open(Path("missing.db"), {}, "model registry X");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find("model registry X: open: "), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("cannot open the file"), std::string::npos);

  // A file that is not a database: DataLoss on first use.
  {
    std::ofstream out(Path("junk.db"), std::ios::binary);
    out << std::string(4096, 'x');
  }
  auto junk = Database::Open(Path("junk.db"), {});
  ASSERT_TRUE(junk.ok());  // SQLite reads the header lazily
  auto read = junk->QueryText("SELECT count(*) FROM sqlite_master", "read schema");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(read.status().message().find(Path("junk.db") + ": read schema: "), std::string::npos)
      << read.status().message();
  EXPECT_NE(read.status().message().find("not a SQLite database"), std::string::npos);

  // Bad SQL names the statement; a failed bind is reported by the step, naming the parameter.
  auto db = Database::Open(Path("b.db"), {.create = true});
  ASSERT_TRUE(db.ok());
  auto bad = Statement::Prepare(*db, "SELECT nope FROM nowhere");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("preparing SELECT nope FROM nowhere"), std::string::npos);
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER)", "create").ok());
  auto insert = Statement::Prepare(*db, "INSERT INTO t VALUES(?)");
  ASSERT_TRUE(insert.ok());
  const Status status = insert->Int(1).Int(2).Run();  // one parameter too many
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("binding parameter 2"), std::string::npos) << status.message();
  EXPECT_EQ(db->QueryText("SELECT count(*) FROM t", "count")->value_or(""), "0");
}

TEST_F(SqliteTest, ReadOnlyRefusesWrites) {
  {
    auto db = Database::Open(Path("r.db"), {.create = true});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER)", "create").ok());
  }
  auto db = Database::Open(Path("r.db"), {.read_only = true});
  ASSERT_TRUE(db.ok());
  const Status status = db->Exec("INSERT INTO t VALUES(1)", "insert");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("insert: "), std::string::npos) << status.message();
}

}  // namespace
}  // namespace aits::sqlite
