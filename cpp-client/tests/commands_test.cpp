#include <gtest/gtest.h>

#include "stagelink/commands.hpp"

using namespace stagelink;

TEST(Commands, BuildersMatchTheProtocolTable) {
  EXPECT_EQ(commands::go_to_frame(42), json({{"kind", "go_to_frame"}, {"frame", 42}}));
  EXPECT_EQ(commands::pause(), json({{"kind", "pause"}}));
  EXPECT_EQ(commands::resume(), json({{"kind", "resume"}}));
  EXPECT_EQ(commands::rewind(), json({{"kind", "rewind"}}));
  EXPECT_EQ(commands::step(-2), json({{"kind", "step"}, {"delta", -2}}));
  EXPECT_EQ(commands::set_tempo(24)["tempo"], 24.0);
  const json sp = commands::set_sprite_prop(3, 1, "loc_h", 100);
  EXPECT_EQ(sp["sprite_num"], 3);
  EXPECT_EQ(sp["begin_frame"], 1);
  EXPECT_EQ(sp["prop"], "loc_h");
  EXPECT_EQ(sp["value"], 100);
  EXPECT_EQ(commands::set_member_prop(1, 2, "text", "hi")["member_num"], 2);
  EXPECT_EQ(commands::set_cast_prop(1, "name", "c")["cast_lib"], 1);
  EXPECT_EQ(commands::set_movie_prop("p", true)["kind"], "set_movie_prop");
  EXPECT_EQ(commands::set_stage_prop("bgColor", json{{"r", 1}, {"g", 2}, {"b", 3}, {"a", 255}})["value"]["a"],
            255);
  EXPECT_EQ(commands::custom("ping_driver"), json({{"kind", "custom"}, {"name", "ping_driver"}, {"payload", json::object()}}));
  const json b = commands::batch({commands::pause(), commands::go_to_frame(1)});
  EXPECT_EQ(b["commands"].size(), 2u);
}

TEST(Commands, EveryBuiltCommandValidates) {
  for (const json& c :
       {commands::go_to_frame(42), commands::pause(), commands::resume(), commands::rewind(),
        commands::step(1), commands::set_tempo(30), commands::set_sprite_prop(1, 1, "blend", 50),
        commands::set_member_prop(1, 1, "text", "x"), commands::set_cast_prop(1, "name", "x"),
        commands::set_movie_prop("p", 1), commands::set_stage_prop("p", nullptr),
        commands::custom("x", {{"a", 1}}), commands::batch({commands::pause()})}) {
    Result<CommandSpec> spec = validate_command(c);
    ASSERT_TRUE(spec) << c.dump() << ": " << spec.error().to_string();
    EXPECT_EQ(spec->kind, c["kind"]);
  }
}

TEST(Commands, ValidationReportsMissingAndInvalidFields) {
  auto code = [](const json& c) {
    Result<CommandSpec> s = validate_command(c);
    return s ? std::string("ok") : s.error().code;
  };
  EXPECT_EQ(code(json{{"kind", "go_to_frame"}}), errc::missing_field);
  EXPECT_EQ(code(json{{"kind", "go_to_frame"}, {"frame", "42"}}), errc::invalid_field);
  EXPECT_EQ(code(json{{"kind", "go_to_frame"}, {"frame", 4.5}}), errc::invalid_field);
  EXPECT_EQ(code(json{{"kind", "teleport"}}), errc::invalid_field);
  EXPECT_EQ(code(json{{"frame", 1}}), errc::missing_field);
  EXPECT_EQ(code(json::array()), errc::invalid_field);
  EXPECT_EQ(code(json{{"kind", "set_movie_prop"}, {"prop", "x"}}), errc::missing_field);
  EXPECT_EQ(code(json{{"kind", "custom"}}), errc::missing_field);
  EXPECT_EQ(code(json{{"kind", "batch"}, {"commands", {json{{"kind", "step"}}}}}), errc::missing_field);
  EXPECT_EQ(code(json{{"kind", "set_tempo"}, {"tempo", true}}), errc::invalid_field);
}

TEST(Commands, SpecReaders) {
  Result<CommandSpec> s = validate_command(commands::go_to_frame(42));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->integer("frame"), 42);
  EXPECT_EQ(s->integer("missing"), 0);
  Result<CommandSpec> c = validate_command(commands::custom("ping_driver", {{"n", 1}}));
  EXPECT_EQ(c->text("name"), "ping_driver");
  EXPECT_EQ(c->value("payload")["n"], 1);
  EXPECT_TRUE(c->value("nothing").is_null());
}
