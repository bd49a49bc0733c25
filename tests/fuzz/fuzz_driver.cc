// Standalone driver for the fuzz targets when they are not built with
// libFuzzer (gcc, the default build): replays the seed corpus, then feeds a
// bounded number of deterministic mutations of it. A crash, sanitizer report
// or uncaught exception fails the ctest. With clang and -DEDGEFORGE_FUZZ=ON
// the same targets link against libFuzzer instead (docs/fuzzing.md).
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

uint64_t Next(uint64_t& s) {  // splitmix64
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// A draw in [0, n): the 64-bit draw reduced before narrowing, so a mutation
/// sequence is the same on 32-bit targets (armhf runs this too).
size_t Below(uint64_t& rng, size_t n) { return static_cast<size_t>(Next(rng) % n); }

std::string Mutate(std::string s, uint64_t& rng) {
  static const char* const kTokens[] = {"\"", "{", "}", "[", "]", ",", ":", "null", "true", "-1", "1e999",
                                        "\\u0000", ".", "..", "=", "A", "\xff", "18446744073709551616"};
  const int edits = 1 + static_cast<int>(Next(rng) % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = s.empty() ? 0 : Below(rng, s.size() + 1);
    switch (Next(rng) % 5) {
      case 0:  // flip a byte
        if (!s.empty()) s[pos % s.size()] = static_cast<char>(Next(rng));
        break;
      case 1:  // delete a run
        if (!s.empty()) s.erase(pos % s.size(), 1 + Below(rng, 8));
        break;
      case 2:  // insert a token
        s.insert(pos, kTokens[Below(rng, sizeof kTokens / sizeof kTokens[0])]);
        break;
      case 3:  // duplicate a slice
        if (!s.empty()) s.insert(pos, s.substr(Below(rng, s.size()), 1 + Below(rng, 16)));
        break;
      default:  // truncate
        s.resize(pos);
    }
  }
  return s;
}

std::vector<std::string> ReadCorpus(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  ::closedir(d);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  const long iterations = argc > 2 ? std::atol(argv[2]) : 20000;
  std::vector<std::string> corpus = ReadCorpus(argv[1]);
  if (corpus.empty()) {
    std::fprintf(stderr, "empty corpus %s\n", argv[1]);
    return 2;
  }
  for (const auto& c : corpus) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  uint64_t rng = 0x5eed;
  for (long i = 0; i < iterations; ++i) {
    const std::string m = Mutate(corpus[Below(rng, corpus.size())], rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(m.data()), m.size());
  }
  std::printf("%zu seeds, %ld mutations: no crash\n", corpus.size(), iterations);
  return 0;
}
