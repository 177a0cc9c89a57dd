// The guest CPU: binaries built for today's x86-64 baseline (AVX2, BMI2,
// FMA) run in a workspace; QEMU's old default model would kill them with
// SIGILL, which a workspace asking for that model shows.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

World& W() { return World::Get(); }

// The "cpu_model" of `inspect --json NAME`.
std::string CpuModelOf(const std::string& name) {
  const std::string json = W().Cli({"inspect", "--json", name}).out;
  const std::string key = "\"cpu_model\":\"";
  auto at = json.find(key);
  return at == std::string::npos
             ? ""
             : json.substr(at + key.size(), json.find('"', at + key.size()) - at - key.size());
}

// A static binary that executes AVX2, FMA and BMI2 instructions (the
// compiler is told it may, and the intrinsics make it) and prints results
// that depend on them.
std::string BuildAvx2Probe() {
  const std::string dir = W().NewFolder("avx2");
  std::ofstream(dir + "/probe.c") << R"(#include <immintrin.h>
#include <stdio.h>
#include <stdint.h>
int main(int argc, char **argv) {
  volatile double k = argc + 1.0;  /* 2.0: not known at compile time */
  __m256d a = _mm256_set1_pd(k), b = _mm256_set_pd(1, 2, 3, 4), c = _mm256_set1_pd(0.5);
  __m256d r = _mm256_fmadd_pd(a, b, c);                     /* FMA */
  __m256i i = _mm256_add_epi64(_mm256_set1_epi64x(argc), _mm256_set1_epi64x(41));  /* AVX2 */
  volatile uint64_t mask = 0xF0F0;
  uint64_t dep = _pdep_u64(argc * 0xFF, mask);              /* BMI2 */
  double out[4];
  _mm256_storeu_pd(out, r);
  printf("fma=%.1f avx2=%lld pdep=%llx\n", out[0] + out[3], (long long)_mm256_extract_epi64(i, 0),
         (unsigned long long)dep);
  return 0;
}
)";
  auto cc = ws::test::Run({"gcc", "-O2", "-static", "-mavx2", "-mbmi2", "-mfma", "-o",
                           dir + "/probe", dir + "/probe.c"});
  return cc.code == 0 ? dir + "/probe" : "";
}

TEST(GuestCpu, ModernX86BinariesRunAndInspectShowsTheModel) {
  const std::string probe = BuildAvx2Probe();
  ASSERT_FALSE(probe.empty()) << "gcc could not build the probe";
  // On the host, as a control of what it prints.
  auto host = ws::test::Run({probe});
  ASSERT_EQ(host.code, 0);
  ASSERT_EQ(host.out, "fma=11.0 avx2=42 pdep=f0f0\n");

  ASSERT_EQ(W().Cli({"create", "cpu", "--image", "minimal", "--no-share"}).code, 0);
  const std::string model = CpuModelOf("cpu");
  EXPECT_TRUE(model == "max" || model == "host") << model;
  EXPECT_NE(W().Cli({"inspect", "cpu"}).out.find("CPU model:   " + model), std::string::npos);
  ASSERT_EQ(W().Cli({"cp", probe, "cpu:/tmp/probe"}).code, 0);
  auto r = W().Cli({"exec", "cpu", "--", "/tmp/probe"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, host.out);
  auto flags =
      W().Cli({"exec", "cpu", "--", "grep", "-m1", "-o", "-w", "-e", "avx2", "/proc/cpuinfo"});
  EXPECT_EQ(flags.out, "avx2\n");
  EXPECT_EQ(W().Cli({"destroy", "--force", "cpu"}).code, 0);
}

TEST(GuestCpu, AModelWithoutAvx2KillsTheProbeAndBadModelsAreRefused) {
  const std::string probe = BuildAvx2Probe();
  ASSERT_FALSE(probe.empty());
  ASSERT_EQ(
      W().Cli({"create", "oldcpu", "--image", "minimal", "--no-share", "--cpu-model", "qemu64"})
          .code,
      0);
  EXPECT_EQ(CpuModelOf("oldcpu"), "qemu64");
  ASSERT_EQ(W().Cli({"cp", probe, "oldcpu:/tmp/probe"}).code, 0);
  ASSERT_EQ(W().Cli({"exec", "oldcpu", "--", "echo", "alive"}).out, "alive\n");
  EXPECT_EQ(W().Cli({"exec", "oldcpu", "--", "/tmp/probe"}).code, 128 + 4) << "SIGILL";
  EXPECT_EQ(W().Cli({"destroy", "--force", "oldcpu"}).code, 0);

  auto bad = W().Cli(
      {"create", "badcpu", "--image", "minimal", "--no-share", "--cpu-model", "x'/><devices"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--cpu-model"), std::string::npos) << bad.err;
  auto unknown =
      W().Cli({"create", "badcpu", "--image", "minimal", "--no-share", "--cpu-model", "NoSuchCpu"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("NoSuchCpu"), std::string::npos) << unknown.err;
  EXPECT_NE(W().Cli({"inspect", "badcpu"}).code, 0) << "nothing half-made is left";
}

}  // namespace
}  // namespace ws::test
