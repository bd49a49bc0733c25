// edgeforge-device: the firmware binary for gateways and hardware-in-the-loop runs.
#include <iostream>
#include <string>
#include <vector>

#include "cli/device_command.h"

int main(int argc, char** argv) {
  return edgeforge::cli::RunDevice(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
