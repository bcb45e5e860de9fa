{
  "variables": {
    "finetune_cpu_sources": [
      "native/addon/addon.cpp",
      "native/addon/args.cpp",
      "native/addon/config_binding.cpp",
      "native/addon/kernel_args.cpp",
      "native/addon/kernel_bindings.cpp",
      "native/addon/program_binding.cpp",
      "native/addon/spec_parse.cpp",
      "native/cpu/activation.cpp",
      "native/cpu/conv1d.cpp",
      "native/cpu/dispatch.cpp",
      "native/cpu/dropout.cpp",
      "native/cpu/embedding.cpp",
      "native/cpu/kernels_avx2.cpp",
      "native/cpu/kernels_avx512.cpp",
      "native/cpu/kernels_portable.cpp",
      "native/cpu/linear.cpp",
      "native/cpu/loss.cpp",
      "native/cpu/optimizer.cpp",
      "native/cpu/pooling.cpp",
      "native/runtime/plan.cpp",
      "native/runtime/program.cpp",
      "native/runtime/thread_pool.cpp"
    ]
  }
}
