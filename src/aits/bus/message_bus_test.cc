// What only the in-process bus can show deterministically (its clock is a SimulatedClock here),
// and the shared subject rules. The behaviour both implementations share is in
// message_bus_contract_test.cc.
#include "aits/bus/message_bus.h"

#include <gtest/gtest.h>

namespace aits::bus {
namespace {

TEST(SubjectTest, MatchesLikeNats) {
  EXPECT_TRUE(SubjectMatches("md.EURUSD", "md.EURUSD"));
  EXPECT_FALSE(SubjectMatches("md.EURUSD", "md.GBPUSD"));
  EXPECT_TRUE(SubjectMatches("md.*", "md.EURUSD"));
  EXPECT_FALSE(SubjectMatches("md.*", "md.EURUSD.bid"));
  EXPECT_FALSE(SubjectMatches("md.*", "md"));
  EXPECT_TRUE(SubjectMatches("md.>", "md.EURUSD.bid"));
  EXPECT_TRUE(SubjectMatches("md.>", "md.EURUSD"));
  EXPECT_FALSE(SubjectMatches("md.>", "md"));
  EXPECT_TRUE(SubjectMatches(">", "a.b.c"));
  EXPECT_TRUE(SubjectMatches("*.EURUSD", "md.EURUSD"));
  EXPECT_FALSE(SubjectMatches("md.EURUSD.bid", "md.EURUSD"));
}

TEST(SubjectTest, OverlapIsSomeSubjectMatchingBoth) {
  EXPECT_TRUE(SubjectsOverlap("md.>", "md.EURUSD"));
  EXPECT_TRUE(SubjectsOverlap("md.*", "*.EURUSD"));
  EXPECT_TRUE(SubjectsOverlap(">", "a"));
  EXPECT_FALSE(SubjectsOverlap("md.*", "md.EURUSD.bid"));
  EXPECT_FALSE(SubjectsOverlap("md.EURUSD", "md.GBPUSD"));
  EXPECT_FALSE(SubjectsOverlap("orders.*", "md.>"));
}

TEST(SubjectTest, ValidationNamesWhatIsWrong) {
  EXPECT_TRUE(ValidateSubject("md.EURUSD", false).ok());
  EXPECT_TRUE(ValidateSubject("md.>", true).ok());
  const Status wildcard = ValidateSubject("md.*", false);
  EXPECT_EQ(wildcard.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wildcard.message().find("md.*"), std::string::npos) << wildcard.message();
  EXPECT_FALSE(ValidateSubject("md.>.x", true).ok());
  EXPECT_FALSE(ValidateSubject("md..x", true).ok());
  EXPECT_FALSE(ValidateSubject(".md", true).ok());
  EXPECT_FALSE(ValidateSubject("md x", true).ok());
  EXPECT_FALSE(ValidateSubject("", true).ok());
  EXPECT_FALSE(ValidateName("stream name", "a.b").ok());
  EXPECT_FALSE(ValidateName("stream name", "").ok());
  StreamConfig config{"S", {"s.>"}};
  config.replicas = 7;
  EXPECT_NE(ValidateStreamConfig(config).message().find("replicas 7"), std::string::npos);
  ConsumerConfig consumer{"S"};
  consumer.max_ack_pending = 0;
  EXPECT_FALSE(ValidateConsumerConfig(consumer).ok());
}

class InProcessBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.AdvanceTo(Timestamp::FromNanos(1'000'000'000'000));
    StreamConfig config{"S", {"s.>"}};
    config.duplicate_window = Duration::Seconds(60);
    config.max_age = Duration::Hours(1);
    ASSERT_TRUE(bus_->AddStream(config).ok());
  }
  SimulatedClock clock_;
  std::unique_ptr<MessageBus> bus_ = MakeInProcessBus(clock_);
};

TEST_F(InProcessBusTest, AnIdIsForgottenAfterTheDuplicateWindow) {
  ASSERT_FALSE(bus_->Publish("s.a", "id-1", "x")->duplicate);
  clock_.AdvanceTo(clock_.Now() + Duration::Seconds(59));
  EXPECT_TRUE(bus_->Publish("s.a", "id-1", "x")->duplicate);
  clock_.AdvanceTo(clock_.Now() + Duration::Seconds(2));
  const Result<PublishAck> later = bus_->Publish("s.a", "id-1", "x");
  EXPECT_FALSE(later->duplicate);
  EXPECT_EQ(later->sequence, 2u);
}

TEST_F(InProcessBusTest, MaxAgeDiscardsOldMessages) {
  ASSERT_TRUE(bus_->Publish("s.a", "", "old").ok());
  clock_.AdvanceTo(clock_.Now() + Duration::Minutes(61));
  ASSERT_TRUE(bus_->Publish("s.a", "", "new").ok());
  const Result<StreamState> state = bus_->GetStream("S");
  EXPECT_EQ(state->messages, 1u);
  EXPECT_EQ(state->first_sequence, 2u);
}

TEST_F(InProcessBusTest, RedeliversWhenTheClockPassesAckWait) {
  ASSERT_TRUE(bus_->Publish("s.a", "", "x").ok());
  ConsumerConfig c{"S", "d"};
  c.ack_wait = Duration::Seconds(30);
  Result<std::unique_ptr<Consumer>> consumer = bus_->Consume(c);
  ASSERT_TRUE(consumer.ok());
  ASSERT_EQ((*consumer)->Fetch(5, Duration{})->size(), 1u);
  EXPECT_TRUE((*consumer)->Fetch(5, Duration{})->empty());
  clock_.AdvanceTo(clock_.Now() + Duration::Seconds(30));
  const Result<std::vector<Delivery>> again = (*consumer)->Fetch(5, Duration{});
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().delivered, 2u);
}

TEST_F(InProcessBusTest, AnEphemeralConsumerIsGoneWhenClosed) {
  ASSERT_TRUE(bus_->Publish("s.a", "", "x").ok());
  {
    Result<std::unique_ptr<Consumer>> consumer = bus_->Consume(ConsumerConfig{"S"});
    ASSERT_TRUE(consumer.ok());
    ASSERT_EQ((*consumer)->Fetch(5, Duration{})->size(), 1u);
  }
  // A new ephemeral starts from the first message again: nothing of the old one's state stayed.
  Result<std::unique_ptr<Consumer>> consumer = bus_->Consume(ConsumerConfig{"S"});
  ASSERT_TRUE(consumer.ok());
  EXPECT_EQ((*consumer)->Fetch(5, Duration{})->size(), 1u);
}

}  // namespace
}  // namespace aits::bus
