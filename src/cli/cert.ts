import type { Command } from "./command.ts";

// Placeholder while the command is being built; replaced by its real implementation.
const command: Command = {
  name: "cert",
  summary: "(being built)",
  usage: "reestr cert: being built\n",
  async run() {
    process.stderr.write("reestr cert: not available yet\n");
    return 1;
  },
};
export default command;
