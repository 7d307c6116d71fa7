import type { Command } from "./command.ts";

// Placeholder while the command is being built; replaced by its real implementation.
const command: Command = {
  name: "ui",
  summary: "(being built)",
  usage: "reestr ui: being built\n",
  async run() {
    process.stderr.write("reestr ui: not available yet\n");
    return 1;
  },
};
export default command;
