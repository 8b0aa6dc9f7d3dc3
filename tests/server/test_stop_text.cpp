// StopText: stop sequences found inside one piece and across pieces, held-back text, earliest stop wins.
#include <gtest/gtest.h>

#include "stop_text.hpp"

namespace bitnet::server {
namespace {

TEST(StopText, NoStopsPassesEverythingThrough) {
  StopText s({});
  bool stopped = true;
  EXPECT_EQ(s.push("hello", stopped), "hello");
  EXPECT_FALSE(stopped);
  EXPECT_EQ(s.flush(), "");
}

TEST(StopText, StopInsideOnePieceIsCutAndNotEmitted) {
  StopText s({"END"});
  bool stopped = false;
  EXPECT_EQ(s.push("abcENDxyz", stopped), "abc");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(s.push("more", stopped), "");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(s.flush(), "");
}

TEST(StopText, StopSpanningPiecesIsHeldBackThenCut) {
  StopText s({"o w"});
  bool stopped = false;
  EXPECT_EQ(s.push("Hel", stopped), "Hel");
  EXPECT_EQ(s.push("lo", stopped), "l");  // "o" may start the stop: held
  EXPECT_FALSE(stopped);
  EXPECT_EQ(s.push(" ", stopped), "");  // "o " still may
  EXPECT_EQ(s.push("world", stopped), "");
  EXPECT_TRUE(stopped);
}

TEST(StopText, HeldTextIsReleasedWhenTheStopFails) {
  StopText s({"END"});
  bool stopped = false;
  EXPECT_EQ(s.push("abE", stopped), "ab");
  EXPECT_EQ(s.push("N", stopped), "");
  EXPECT_EQ(s.push("x", stopped), "ENx");
  EXPECT_FALSE(stopped);
  EXPECT_EQ(s.push("yE", stopped), "y");
  EXPECT_EQ(s.flush(), "E");  // generation ended: what was held goes out
}

TEST(StopText, EarliestOfSeveralStopsWins) {
  StopText s({"cd", "b"});
  bool stopped = false;
  EXPECT_EQ(s.push("abcd", stopped), "a");
  EXPECT_TRUE(stopped);
}

TEST(StopText, MultiByteCharactersAreNotSplit) {
  StopText s({"\xC3\xA9t\xC3\xA9"});  // "été"
  bool stopped = false;
  EXPECT_EQ(s.push("caf\xC3\xA9", stopped), "caf");  // "é" may start the stop
  EXPECT_EQ(s.push("!", stopped), "\xC3\xA9!");
  EXPECT_EQ(s.push("\xC3\xA9t\xC3\xA9", stopped), "");
  EXPECT_TRUE(stopped);
}

}  // namespace
}  // namespace bitnet::server
