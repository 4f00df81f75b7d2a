// Builders for the inner `command` objects of protocol §5, and the validation a publisher runs
// on the commands it receives (every command gets exactly one ack, even a malformed one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stagelink/messages.hpp"
#include "stagelink/result.hpp"

namespace stagelink {

namespace commands {
json go_to_frame(std::int64_t frame);
json pause();
json resume();
json rewind();
json step(std::int64_t delta);
json set_tempo(double tempo);
json set_sprite_prop(std::int64_t sprite_num, std::int64_t begin_frame, std::string prop,
                     json value);
json set_member_prop(std::int64_t cast_lib, std::int64_t member_num, std::string prop,
                     json value);
json set_cast_prop(std::int64_t cast_lib, std::string prop, json value);
json set_movie_prop(std::string prop, json value);
json set_stage_prop(std::string prop, json value);
json custom(std::string name, json payload = json::object());
json batch(std::vector<json> commands);
}  // namespace commands

/// A command whose kind is known and whose required fields are present with the right types.
struct CommandSpec {
  std::string kind;
  /// The whole command object (kind included), for reading the fields.
  json body;

  /// Convenience readers for fields validation already checked.
  std::int64_t integer(const char* field) const;
  double number(const char* field) const;
  std::string text(const char* field) const;
  const json& value(const char* field) const;
};

/// Checks a command object: `invalid_field` for an unknown kind or a wrong type,
/// `missing_field` for an absent required field. Batches are checked recursively.
Result<CommandSpec> validate_command(const json& command);

}  // namespace stagelink
