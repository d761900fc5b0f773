import Checkpoint
import Foundation

/// The pictures and summary of `streamline analyze --report DIR`.
public enum AnalysisReport {
  /// The files `write` makes.
  public static let files: Set<String> = [
    "analysis.json", "summary.md", "similarity.svg", "blocks.svg",
  ]

  /// Writes analysis.json, summary.md, similarity.svg and blocks.svg into `folder`, part of an
  /// output being written (`OutputFolder`), which is committed whole.
  public static func write(_ analysis: Analysis, model: String, to folder: URL) throws {
    try OutputFolder.write(
      [
        ("analysis.json", Data(try Format.json(analysis).utf8)),
        ("summary.md", Data(markdown(analysis, model: model).utf8)),
        ("similarity.svg", Data(heatmap(analysis).utf8)),
        ("blocks.svg", Data(blockChart(analysis).utf8)),
      ], into: folder)
  }

  /// The block table as text, the chosen block marked.
  public static func table(_ analysis: Analysis) -> String {
    var lines = [
      "block of \(analysis.blockSize) layer\(analysis.blockSize == 1 ? "" : "s") (\(analysis.removedLayers) fewer in the output, replacement: \(analysis.replacement.rawValue)); \(analysis.samples) sequences, \(analysis.tokens) tokens",
      "",
      "  layers removed   cosine   angular",
    ]
    for block in analysis.blocks {
      let mark = analysis.chosen.layers == Array(block.start..<block.end) ? " ◀ chosen" : ""
      let range = String(format: "%3d–%-3d", block.start, block.end - 1)
      lines.append(
        String(format: "  %@        %.4f   %.4f", range, block.cosine, block.angular) + mark)
    }
    lines.append("")
    let bi = analysis.layerBI.enumerated().map { String(format: "%d:%.4f", $0.offset, $0.element) }
    lines.append("block influence per layer (1 − cos): " + bi.joined(separator: " "))
    let picks = analysis.choices.keys.sorted().map { key in
      "\(key) → \(describe(analysis.choices[key]!.layers))"
    }
    lines.append(
      "metrics \(analysis.metricsAgree ? "agree" : "disagree"): " + picks.joined(separator: ", "))
    if let measured = analysis.measured {
      lines.append("")
      lines.append(measuredHeading(analysis, candidates: measured.count))
      lines.append("  layers removed   cosine   angular   KL (nats)   perplexity")
      for block in measured {
        let mark = analysis.chosen.start == block.start ? " ◀ chosen" : ""
        let range = String(format: "%3d–%-3d", block.start, block.end - 1)
        lines.append(
          String(
            format: "  %@        %.4f   %.4f    %.6f   %.3f", range, block.cosine, block.angular,
            block.kl, block.perplexity) + mark)
      }
    }
    let how =
      analysis.selection == .measured
      ? "measured among the best by \(analysis.metric.rawValue)" : analysis.metric.rawValue
    lines.append(
      "chosen (\(how)): layers \(describe(analysis.chosen.layers)), "
        + String(
          format: "%.1f%% of %@ parameters",
          100 * Double(analysis.parametersRemoved) / Double(analysis.parameters),
          Format.count(analysis.parameters)))
    return lines.joined(separator: "\n")
  }

  /// What the measured candidates are.
  static func measuredHeading(_ analysis: Analysis, candidates: Int) -> String {
    let compensation =
      switch analysis.measured?.first?.compensation {
      case "linear": "each compensated with the training-free map"
      case "residual":
        "each compensated with the training-free map on the residual stream (in memory)"
      default: "each removed plainly"
      }
    return
      "measured: the \(candidates) best by \(analysis.metric.rawValue), \(compensation), by KL to the original on the scored sequences"
  }

  /// Layers as a range ("7–9") when contiguous, else a list.
  public static func describe(_ layers: [Int]) -> String {
    guard let first = layers.first, let last = layers.last else { return "none" }
    if layers == Array(first...last) { return first == last ? "\(first)" : "\(first)–\(last)" }
    return layers.map(String.init).joined(separator: ",")
  }

  static func markdown(_ analysis: Analysis, model: String) -> String {
    var out = """
      # Layer redundancy of `\(model)`

      \(analysis.samples) calibration sequences, \(analysis.tokens) tokens. Block width \(analysis.blockSize) \
      (\(analysis.removedLayers) layers fewer, replacement `\(analysis.replacement.rawValue)`), metric `\(analysis.metric.rawValue)`.

      **Chosen:** layers \(describe(analysis.chosen.layers)) (states \(analysis.chosen.start) → \(analysis.chosen.end)). \
      Metrics \(analysis.metricsAgree ? "agree" : "disagree").

      ![similarity](similarity.svg)

      ![blocks](blocks.svg)

      | layers removed | cosine | angular |
      | --- | --- | --- |

      """
    for block in analysis.blocks {
      let chosen = analysis.chosen.layers == Array(block.start..<block.end)
      let name = "\(describe(Array(block.start..<block.end)))"
      out += String(
        format: "| %@ | %.4f | %.4f |\n", chosen ? "**\(name)** (chosen)" : name, block.cosine,
        block.angular)
    }
    if let measured = analysis.measured {
      out += "\n" + measuredHeading(analysis, candidates: measured.count) + ".\n\n"
      out +=
        "| layers removed | cosine | angular | KL (nats) | perplexity |\n| --- | --- | --- | --- | --- |\n"
      for block in measured {
        let name = describe(Array(block.start..<block.end))
        out += String(
          format: "| %@ | %.4f | %.4f | %.6f | %.3f |\n",
          analysis.chosen.start == block.start ? "**\(name)** (chosen)" : name, block.cosine,
          block.angular, block.kl, block.perplexity)
      }
    }
    out += "\n| layer | block influence |\n| --- | --- |\n"
    for (layer, bi) in analysis.layerBI.enumerated() {
      out += String(format: "| %d | %.4f |\n", layer, bi)
    }
    return out
  }

  /// The pairwise similarity of hidden states, the chosen block outlined.
  static func heatmap(_ analysis: Analysis) -> String {
    let matrix = analysis.similarity.cosine
    let n = matrix.count
    let cell = max(10, min(48, 560 / Double(n)))
    let left = 70.0
    let top = 70.0
    let side = cell * Double(n)
    var svg = SVG(width: max(640, left + side + 130), height: top + side + 70)
    let low = matrix.joined().min() ?? 0
    let high = 1.0
    svg.text(
      "Cosine similarity between hidden states (mean over \(analysis.tokens) tokens)",
      x: left, y: 28, size: 15, weight: "bold")
    svg.text(
      "state i = residual stream after layer i (0 = embeddings); outlined: chosen block",
      x: left, y: 48, size: 11, fill: "#555")
    for i in 0..<n {
      for j in 0..<n {
        let t = (matrix[i][j] - low) / max(1e-12, high - low)
        svg.rect(
          x: left + Double(j) * cell, y: top + Double(i) * cell, width: cell, height: cell,
          fill: SVG.viridis(t), title: String(format: "h%d · h%d: %.4f", i, j, matrix[i][j]))
      }
    }
    let step = max(1, n / 16)
    for i in stride(from: 0, to: n, by: step) {
      let center = Double(i) * cell + cell / 2
      svg.text("\(i)", x: left - 6, y: top + center + 4, size: 10, anchor: "end")
      svg.text("\(i)", x: left + center, y: top + side + 14, size: 10, anchor: "middle")
    }
    svg.text("state", x: left + side / 2, y: top + side + 32, size: 12, anchor: "middle")
    svg.text(
      "state", x: left - 40, y: top + side / 2, size: 12, anchor: "middle", rotate: -90)
    let chosen = analysis.chosen
    if chosen.layers == Array(chosen.start..<chosen.end) {
      let a = Double(chosen.start) * cell
      let size = Double(chosen.end - chosen.start + 1) * cell
      svg.rect(
        x: left + a, y: top + a, width: size, height: size, fill: "none", stroke: "#e41a1c",
        strokeWidth: 3)
      svg.rect(
        x: left + Double(chosen.end) * cell, y: top + Double(chosen.start) * cell, width: cell,
        height: cell, fill: "none", stroke: "white", strokeWidth: 2)
    } else {
      for layer in chosen.layers {
        svg.rect(
          x: left + Double(layer + 1) * cell, y: top + Double(layer) * cell, width: cell,
          height: cell, fill: "none", stroke: "#e41a1c", strokeWidth: 3)
      }
    }
    // Colour scale.
    let barX = left + side + 30
    for k in 0..<100 {
      let t = 1 - Double(k) / 99
      svg.rect(
        x: barX, y: top + Double(k) * side / 100, width: 18, height: side / 100 + 0.5,
        fill: SVG.viridis(t))
    }
    svg.text(String(format: "%.2f", high), x: barX + 24, y: top + 10, size: 10)
    svg.text(String(format: "%.2f", low), x: barX + 24, y: top + side, size: 10)
    return svg.document
  }

  /// Block score against start layer, one line per block size from 1 to L/2.
  static func blockChart(_ analysis: Analysis) -> String {
    let layers = analysis.numLayers
    let sizes = Array(1...max(1, layers / 2))
    let series = sizes.map { width -> [BlockScore] in
      Importance.scores(analysis.similarity, width: width)
    }
    let values = series.joined().map(\.cosine)
    let low = min(values.min() ?? 0, 1) - 0.02
    let high = min(1, (values.max() ?? 1) + 0.02)
    let left = 70.0
    let top = 60.0
    let plotWidth = 640.0
    let plotHeight = 340.0
    var svg = SVG(width: left + plotWidth + 150, height: top + plotHeight + 70)
    svg.text(
      "Block similarity cos(h_i, h_i+k) by first removed layer i", x: left, y: 28, size: 15,
      weight: "bold")
    svg.text(
      "higher = more redundant; one line per block size k", x: left, y: 46, size: 11,
      fill: "#555")
    let xScale = { (i: Double) in left + i / Double(max(1, layers - 1)) * plotWidth }
    let yScale = { (v: Double) in top + (high - v) / max(1e-9, high - low) * plotHeight }
    for k in 0...5 {
      let v = low + (high - low) * Double(k) / 5
      svg.line(x1: left, y1: yScale(v), x2: left + plotWidth, y2: yScale(v), stroke: "#eee")
      svg.text(String(format: "%.2f", v), x: left - 8, y: yScale(v) + 4, size: 10, anchor: "end")
    }
    let step = max(1, layers / 16)
    for i in stride(from: 0, to: layers, by: step) {
      svg.text("\(i)", x: xScale(Double(i)), y: top + plotHeight + 16, size: 10, anchor: "middle")
    }
    svg.line(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight)
    svg.line(x1: left, y1: top, x2: left, y2: top + plotHeight)
    svg.text(
      "first removed layer", x: left + plotWidth / 2, y: top + plotHeight + 36, size: 12,
      anchor: "middle")
    for (index, blocks) in series.enumerated() {
      let color = SVG.palette[index % SVG.palette.count]
      let width = sizes[index] == analysis.blockSize ? 3.5 : 1.8
      svg.polyline(
        blocks.map { (xScale(Double($0.start)), yScale($0.cosine)) }, stroke: color, width: width)
      for block in blocks {
        svg.circle(x: xScale(Double(block.start)), y: yScale(block.cosine), r: 2.2, fill: color)
      }
      let legendY = top + 14 + Double(index) * 18
      svg.line(
        x1: left + plotWidth + 20, y1: legendY - 4, x2: left + plotWidth + 40, y2: legendY - 4,
        stroke: color, width: width)
      svg.text(
        "k = \(sizes[index])\(sizes[index] == analysis.blockSize ? " (analysed)" : "")",
        x: left + plotWidth + 46, y: legendY, size: 11)
    }
    if analysis.blockSize <= sizes.count, analysis.metric != .bi,
      let block = analysis.blocks.first(where: { $0.start == analysis.chosen.start })
    {
      svg.circle(
        x: xScale(Double(block.start)), y: yScale(block.cosine), r: 7, fill: "none",
        stroke: "#e41a1c")
    }
    return svg.document
  }
}
