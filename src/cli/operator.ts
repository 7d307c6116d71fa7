import type { Command } from "./command.ts";

// Placeholder while the command is being built; replaced by its real implementation.
const command: Command = {
  name: "operator",
  summary: "(being built)",
  usage: "reestr operator: being built\n",
  async run() {
    process.stderr.write("reestr operator: not available yet\n");
    return 1;
  },
};
export default command;
