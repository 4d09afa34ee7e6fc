"""
---
id: image-portrait
name: Image Portrait
version: 1.0.0
description: Paints a two-character portrait with api.v1.image.generate (a nai-script extension).
permissions: [imageGeneration]
---
Needs the imageGeneration permission (`nai-script run --grant-permissions`) and spends two
images of the script's image budget (8 per 300 s by default). Not available on NovelAI itself.
"""

if not await api.v1.permissions.has("imageGeneration"):
    api.v1.error("no imageGeneration permission: run with --grant-permissions")
else:
    result = await api.v1.image.generate(
        {
            "prompt": "2girls, lighthouse at dusk, oil painting",
            "negative": "lowres, blurry",
            "characters": [
                {"prompt": "girl, red coat", "position": "B3"},
                "girl, blue scarf@D3|frown",
            ],
            "width": 512,
            "height": 768,
            "steps": 20,
            "seed": 1234,
            "samples": 2,
        }
    )
    for number, uri in enumerate(result["images"], start=1):
        api.v1.log(f"image {number}: {uri[:22]}... ({len(uri)} characters)")
    api.v1.log(f"seed {result['seed']}")
