// The Telegram stand-in (src/aits/notify/telegram_stand_in.h) as a process, for end-to-end tests
// of `aits serve --role notifications --telegram-api URL`. Usage: telegram_stand_in TOKEN.
// Prints "url http://127.0.0.1:PORT" first, then each message the bot sends or edits as a JSON
// line ({"chat_id", "message_id", "text", "edited", "buttons"}). Reads commands on stdin, one a
// line, until it ends:
//   text USER_ID CHAT_ID TEXT...           a user writes TEXT in the chat
//   press USER_ID CHAT_ID MESSAGE_ID DATA  a user presses a button
//   refuse COUNT SECONDS                   the next COUNT sends get 429, retry_after SECONDS
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "aits/notify/telegram_stand_in.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: telegram_stand_in TOKEN\n");
    return 2;
  }
  auto started = aits::notify::TelegramStandIn::Start(argv[1]);
  if (!started.ok()) {
    std::fprintf(stderr, "telegram_stand_in: %s\n", started.status().message().c_str());
    return 1;
  }
  aits::notify::TelegramStandIn& stand_in = **started;
  std::printf("url %s\n", stand_in.base_url().c_str());
  std::fflush(stdout);
  std::atomic<bool> done{false};
  std::thread printer([&] {
    size_t printed = 0;
    while (!done.load()) {
      stand_in.WaitForSent(printed + 1, std::chrono::milliseconds(100));
      const auto sent = stand_in.sent();
      for (; printed < sent.size(); ++printed) {
        nlohmann::json buttons = nlohmann::json::array();
        for (const auto& row : sent[printed].keyboard) {
          for (const auto& button : row) buttons.push_back(button.callback_data);
        }
        const nlohmann::json line = {{"chat_id", sent[printed].chat_id},
                                     {"message_id", sent[printed].message_id},
                                     {"text", sent[printed].text},
                                     {"edited", sent[printed].edited},
                                     {"buttons", buttons}};
        std::printf("%s\n", line.dump().c_str());
      }
      std::fflush(stdout);
    }
  });
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    if (verb == "text") {
      aits::notify::TelegramUser user;
      int64_t chat = 0;
      in >> user.id >> chat;
      user.username = "user" + std::to_string(user.id);
      std::string text;
      std::getline(in >> std::ws, text);
      stand_in.SendText(user, chat, text);
    } else if (verb == "press") {
      aits::notify::TelegramUser user;
      int64_t chat = 0;
      int64_t message = 0;
      std::string data;
      in >> user.id >> chat >> message >> data;
      stand_in.PressButton(user, chat, message, data);
    } else if (verb == "refuse") {
      int count = 0;
      int seconds = 0;
      in >> count >> seconds;
      stand_in.RefuseSends(count, seconds);
    } else if (!verb.empty()) {
      std::fprintf(stderr, "telegram_stand_in: unknown command '%s'\n", verb.c_str());
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the last lines out
  done = true;
  printer.join();
  return 0;
}
