// Whether autocast is on in this thread, through the API of the LibTorch
// found: by device from 2.4 on, per-device functions before (deprecated
// since, and an error under the ci preset's warnings-as-errors). The one
// place outside tuner/workload/precision.cpp that asks is the tests.
#pragma once

namespace batchtune {

bool autocast_enabled(bool cuda);

}  // namespace batchtune
