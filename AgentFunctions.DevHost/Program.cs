Console.WriteLine("AgentFunctions local host: not wired yet.");
return 1;
