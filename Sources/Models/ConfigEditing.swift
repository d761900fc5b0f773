import Foundation

/// config.json edits shared by the architectures' `editedConfig`.
public enum ConfigEditing {
  /// Sets `countKey` to the layers left and drops the removed entries of every list that has
  /// exactly one entry per layer (`architectures` excepted, which never describes layers).
  public static func removingLayers(
    _ config: [String: Any], layers: Int, removing removed: Set<Int>, countKey: String
  ) -> [String: Any] {
    var config = config
    config[countKey] = layers - removed.count
    for (key, value) in config {
      if let list = value as? [Any], list.count == layers, key != "architectures" {
        config[key] = list.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
      }
    }
    return config
  }
}
