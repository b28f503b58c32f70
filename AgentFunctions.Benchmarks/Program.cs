using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(AgentFunctions.Benchmarks.KeyCacheHitBenchmarks).Assembly).Run(args);
