// The one flag the scripts in bench/ take: --quick (CI sizes, same code paths;
// CI runs every benchmark this way and checks only that it runs and prints JSON).
export function benchFlags(script: string, argv = process.argv.slice(2)): { quick: boolean } {
  const unknown = argv.filter((a) => a !== '--quick');
  if (unknown.length > 0) {
    process.stderr.write(
      `${script}: unknown argument ${unknown.map((a) => JSON.stringify(a)).join(', ')}; the only flag is --quick (CI sizes)\n`,
    );
    process.exit(2);
  }
  return { quick: argv.includes('--quick') };
}
