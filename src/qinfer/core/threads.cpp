#include "qinfer/core/threads.h"

#include <algorithm>
#include <thread>

#include "qinfer/core/cpu_info.h"

namespace qinfer {

int hardware_thread_count() {
  static const int n = std::max(1, int(std::thread::hardware_concurrency()));
  return n;
}

int default_thread_count() {
  static const int n = std::clamp(detect_cpu().physical_cores, 1, hardware_thread_count());
  return n;
}

ThreadCount choose_thread_count(int requested) {
  if (requested <= 0) return {default_thread_count(), false};
  const int most = hardware_thread_count();
  return requested > most ? ThreadCount{most, true} : ThreadCount{requested, false};
}

}  // namespace qinfer
