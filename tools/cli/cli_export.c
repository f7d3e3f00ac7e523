/* cli_export.c — `ddx export`: the built-in network's weights for PyTorch,
 * JAX or anyone else to load (the anchors in bench/ use it). */
#include "tools/cli/cli.h"


static const char *HELP =
    "usage: ddx export --model mlp:SPEC --out DIR [--inputs t,x]\n"
    "  Writes DIR/W0.npy, b0.npy, ... (float64; W is out x in, b is out x 1) and\n"
    "  DIR/manifest.json (inputs, outputs, layer files and activations).\n";

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "export", "model out inputs", &o)) return 2;
    if (!o.model) return cli_fail("export", "--model is required");
    if (!o.out) return cli_fail("export", "--out is required");
    ddx_model m;
    char err[1024];
    if (ddx_model_load(o.model, o.inputs, &m, err, sizeof err)) return cli_fail("export", "%s", err);
    int rc = 0;
    if (ddx_model_export(&m, o.out, err, sizeof err)) rc = cli_fail("export", "%s", err);
    else printf("ddx export: %d layers written to %s\n", m.n_layers, o.out);
    ddx_model_free(&m);
    return rc;
}
