// Stagelink C++ client: everything in one include.
#pragma once

#include "stagelink/client.hpp"
#include "stagelink/commands.hpp"
#include "stagelink/framing.hpp"
#include "stagelink/messages.hpp"
#include "stagelink/publisher.hpp"
#include "stagelink/result.hpp"
#include "stagelink/tiles.hpp"
#include "stagelink/url.hpp"
#include "stagelink/version.hpp"
