#include "aits/notify/telegram.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "aits/notify/telegram_stand_in.h"

namespace aits::notify {
namespace {

const TelegramUser kAlice{101, "alice", "Alice"};

class TelegramClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = TelegramStandIn::Start("123:secret");
    ASSERT_TRUE(started.ok()) << started.status().message();
    stand_in_ = std::move(started).value();
    TelegramOptions options;
    options.base_url = stand_in_->base_url();
    options.token = "123:secret";
    auto client = TelegramClient::Create(options);
    ASSERT_TRUE(client.ok());
    client_.emplace(std::move(client).value());
  }
  std::unique_ptr<TelegramStandIn> stand_in_;
  std::optional<TelegramClient> client_;
};

TEST_F(TelegramClientTest, LongPollsMessagesAndButtonsAndConfirmsThemByOffset) {
  auto empty = client_->GetUpdates(0, 0);
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->empty());
  stand_in_->SendText(kAlice, 5001, "/status@aits_bot");
  stand_in_->PressButton(kAlice, 5001, 77, "flatten:1");
  auto updates = client_->GetUpdates(0, 1);
  ASSERT_TRUE(updates.ok()) << updates.status().message();
  ASSERT_EQ(updates->size(), 2u);
  const TelegramUpdate& first = (*updates)[0];
  ASSERT_TRUE(first.message.has_value());
  EXPECT_EQ(first.message->text, "/status@aits_bot");
  EXPECT_EQ(first.message->chat_id, 5001);
  EXPECT_EQ(first.message->from.id, 101);
  EXPECT_EQ(first.message->from.username, "alice");
  const TelegramUpdate& second = (*updates)[1];
  ASSERT_TRUE(second.callback.has_value());
  EXPECT_EQ(second.callback->data, "flatten:1");
  EXPECT_EQ(second.callback->message_id, 77);
  EXPECT_EQ(second.callback->chat_id, 5001);
  EXPECT_FALSE(second.callback->id.empty());
  // The next offset confirms both: they are not delivered again.
  auto after = client_->GetUpdates(second.update_id + 1, 0);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

TEST_F(TelegramClientTest, SendsMessagesWithKeyboardsAndEditsThem) {
  stand_in_->SendText(kAlice, 5001, "hi");  // the chat is known once someone wrote in it
  auto id = client_->SendMessage(5001, "Flatten?", {{{"Yes", "flatten:1"}, {"No", "cancel:1"}}});
  ASSERT_TRUE(id.ok()) << id.status().message();
  ASSERT_TRUE(client_->EditMessageText(5001, *id, "Flatten queued.").ok());
  ASSERT_TRUE(client_->AnswerCallbackQuery("cb1", "queued").ok());
  const auto sent = stand_in_->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].text, "Flatten?");
  ASSERT_EQ(sent[0].keyboard.size(), 1u);
  EXPECT_EQ(sent[0].keyboard[0][1].callback_data, "cancel:1");
  EXPECT_TRUE(sent[1].edited);
  EXPECT_EQ(sent[1].message_id, *id);
  EXPECT_EQ(stand_in_->answered_callbacks(), std::vector<std::string>{"queued"});
  // Over Telegram's 4096 characters: cut, with an ellipsis, and accepted.
  ASSERT_TRUE(client_->SendMessage(5001, std::string(5000, 'x')).ok());
  std::string cut(4093, 'x');
  cut += "\xE2\x80\xA6";
  EXPECT_EQ(stand_in_->sent().back().text, cut);
}

TEST_F(TelegramClientTest, RefusalsBecomeStatusesNamingTheMethodNotTheToken) {
  TelegramRefusal refusal;
  auto unknown_chat = client_->SendMessage(999, "x", {}, &refusal);
  ASSERT_FALSE(unknown_chat.ok());
  EXPECT_EQ(unknown_chat.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown_chat.status().message(),
            "telegram sendMessage: 400 Bad Request: chat not found");
  EXPECT_EQ(refusal.error_code, 400);

  stand_in_->SendText(kAlice, 5001, "hi");
  stand_in_->RefuseSends(1, 3);
  auto limited = client_->SendMessage(5001, "x", {}, &refusal);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refusal.error_code, 429);
  EXPECT_EQ(refusal.retry_after_s, 3);
  EXPECT_TRUE(client_->SendMessage(5001, "x").ok());  // the next one goes through

  TelegramOptions wrong;
  wrong.base_url = stand_in_->base_url();
  wrong.token = "123:wrong";
  auto other = TelegramClient::Create(wrong);
  ASSERT_TRUE(other.ok());
  auto refused = other->GetUpdates(0, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(), "telegram getUpdates: 401 Unauthorized");
  EXPECT_EQ(refused.status().message().find("wrong"), std::string::npos);

  EXPECT_FALSE(TelegramClient::Create(TelegramOptions{}).ok());  // no token
}

// A long poll is abandoned when its owner's flag is set: a bot stopping does not wait out its
// poll. Without the cancel this test would return an empty list after 30 s, and fail.
TEST_F(TelegramClientTest, ALongPollEndsWhenItsOwnerCancels) {
  std::atomic<bool> cancel{false};
  TelegramOptions options;
  options.base_url = stand_in_->base_url();
  options.token = "123:secret";
  options.cancel = &cancel;
  auto client = TelegramClient::Create(options);
  ASSERT_TRUE(client.ok());
  std::thread canceller([&] {
    while (stand_in_->polls() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto polled = client->GetUpdates(0, 30);
  canceller.join();
  ASSERT_FALSE(polled.ok());
  EXPECT_EQ(polled.status().message(), "telegram getUpdates: cancelled");
}

TEST(TelegramClientUnreachableTest, AServerThatIsNotThereIsUnavailable) {
  uint16_t port = 0;
  {
    auto gone = TelegramStandIn::Start("t");
    ASSERT_TRUE(gone.ok());
    port = static_cast<uint16_t>(std::stoi((*gone)->base_url().substr(17)));
  }
  TelegramOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  options.token = "t";
  auto client = TelegramClient::Create(options);
  ASSERT_TRUE(client.ok());
  auto sent = client->SendMessage(1, "x");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kUnavailable) << sent.status().message();
}

}  // namespace
}  // namespace aits::notify
