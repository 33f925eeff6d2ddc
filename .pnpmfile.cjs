// pnpm's hooks for this workspace.
//
// beforePacking: what `pnpm pack` / `pnpm publish` write as a package's package.json. A
// package users install (the SDK's tarball) carries what it needs to run, not how it is built
// and tested here: its devDependencies name private workspace packages and the test tools.
// The manifest in the repository is left as it is; only the packed copy changes.
module.exports = {
  hooks: {
    beforePacking(manifest) {
      delete manifest.devDependencies;
      return manifest;
    },
  },
};
